# weblog.rpy: the latest hits (JSON at weblog.rpy/json, live events at weblog.rpy/events).
# Run again on every request; Records lives in the site registry, outliving each run and edit,
# and WeblogPage keeps the event hub and what it rendered there too.
from persist import IRecords, Records
from weblog.resources import WeblogPage, protect

records = registry.getComponent(IRecords)
if records is None:
    records = Records()
    records.start()
    registry.setComponent(IRecords, records)

page = WeblogPage(records, registry=registry)
resource = protect(page, registry)  # HTTP Basic authentication when WEBLOG_HTPASSWD names a file
