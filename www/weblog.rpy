# weblog.rpy: the latest hits of the followed access log (HTML, and JSON at weblog.rpy/json).
# twisted.web runs this file again on every request; the Records object lives in the
# site registry, so it (and its place in the log) outlives each run and each edit.
from pages import WeblogPage
from persist import IRecords, Records

records = registry.getComponent(IRecords)
if records is None:
    records = Records()
    records.start()
    registry.setComponent(IRecords, records)

resource = WeblogPage(records)
