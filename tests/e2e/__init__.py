"""
The end-to-end suites: each starts real processes (a twistd serving a copy of www/, run.sh)
and drives them from outside, as a deployment is used; slower than the unit tests beside them.

C{trial tests} runs them with the rest; C{trial tests.e2e} alone.
"""
