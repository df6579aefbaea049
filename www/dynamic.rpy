# dynamic.rpy: the article's dynamic page, plus a view count kept across restarts.
from weblog.resources import DynamicPage
from persist import Counter, ICounter

counter = registry.getComponent(ICounter)
if counter is None:
    counter = Counter()
    counter.start()
    registry.setComponent(ICounter, counter)

resource = DynamicPage(counter)
