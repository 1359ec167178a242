"""The integration suite's harness: PostgreSQL, the web servers, the
processes they run as, and the example renderer — what tests/integration's
tests and tests/bench start, kept apart from the tests themselves (as
PgBouncer keeps test/utils.py apart).  pytest finds it through pytest.ini's
`pythonpath = tests`; the bench runs from tests/, where it is a package
already.  Web server kinds are listed in kinds.py and registered by one
call (conftest.py, the bench), not by being imported."""
