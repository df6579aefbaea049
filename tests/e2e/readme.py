"""What the operations tests share: the README's marked examples, and the tools they need."""

from __future__ import annotations

import os
import re

from twisted.trial import unittest

from tests.support import REPO


def readme_block(name: str) -> str:
    """The README's code block marked C{<!-- name: ... -->}, as written there."""
    text = REPO.child("README.md").getContent().decode("utf-8")
    found = re.search(rf"<!-- {name}: [^>]*-->\n```[a-z]*\n(.*?)```", text, re.DOTALL)
    if found is None:
        raise AssertionError(f"the README has no {name} block")
    return found.group(1)


def need(tool: str | None, package: str) -> str:
    """The tool's path; skip without it, but fail under CI, which installs it (.ci/run)."""
    if tool is None:
        reason = f"needs {package} (Debian: apt-get install {package})"
        if os.environ.get("CI") == "true":
            raise AssertionError(f"{reason}; CI's .ci/run installs it")
        raise unittest.SkipTest(reason)
    return tool
