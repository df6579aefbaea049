# weblog.rpy: the latest hits (JSON at weblog.rpy/json, live events at weblog.rpy/events).
# Run again on every request; what must outlive a run lives in the site registry: the Records
# (its place in the log, its hits) and what the pages rendered from them.
from persist import IRecords, Records
from weblog.resources import IRendered, Rendered, WeblogPage, protect

records = registry.getComponent(IRecords)
if records is None:
    records = Records()
    records.start()
    registry.setComponent(IRecords, records)
rendered = registry.getComponent(IRendered)
if rendered is None:
    rendered = Rendered(records)
    registry.setComponent(IRendered, rendered)

page = WeblogPage(records, rendered=rendered)
resource = protect(page, registry)  # HTTP Basic authentication when WEBLOG_HTPASSWD names a file
