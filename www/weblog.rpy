# weblog.rpy: the latest hits (JSON at weblog.rpy/json, live events at weblog.rpy/events).
# Run again on every request; Records and the event hub live in the site registry,
# outliving each run and edit, and so does what the page rendered (WeblogPage keeps it there).
from persist import IRecords, Records
from weblog.events import EventHub
from weblog.interfaces import IEventHub
from weblog.resources import WeblogPage, protect

records = registry.getComponent(IRecords)
if records is None:
    records = Records()
    records.start()
    registry.setComponent(IRecords, records)

hub = registry.getComponent(IEventHub)
if hub is None:
    hub = EventHub(records)
    registry.setComponent(IEventHub, hub)

page = WeblogPage(records, hub=hub, registry=registry)
resource = protect(page, registry)  # HTTP Basic authentication when WEBLOG_HTPASSWD names a file
