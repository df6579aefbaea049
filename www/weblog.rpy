# weblog.rpy: the latest hits of the followed access log (HTML; JSON at weblog.rpy/json,
# live events at weblog.rpy/events). twisted.web runs this file again on every request;
# the Records object lives in the site registry, so it (and its place in the log)
# outlives each run and each edit.
from auth import protect
from pages import WeblogPage
from persist import IRecords, Records

records = registry.getComponent(IRecords)
if records is None:
    records = Records()
    records.start()
    registry.setComponent(IRecords, records)

page = WeblogPage(records)
resource = protect(page)  # HTTP Basic authentication when WEBLOG_HTPASSWD names a file
