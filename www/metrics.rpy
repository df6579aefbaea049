# metrics.rpy: Prometheus metrics of what weblog reads (prometheus-client's text format).
# The same Records as weblog.rpy's, from the site registry (started here if this is the first
# page asked for), and the same event hub; behind the same WEBLOG_HTPASSWD.
from persist import IRecords, Records
from weblog.events import hub_for
from weblog.metrics import MetricsPage
from weblog.resources import protect

records = registry.getComponent(IRecords)
if records is None:
    records = Records()
    records.start()
    registry.setComponent(IRecords, records)

resource = protect(MetricsPage(records, hub_for(registry, records)), registry)
