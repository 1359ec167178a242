"""cases — a table of named cases for pytest.mark.parametrize.

    @pytest.mark.parametrize("body", **cases({"empty": b"", ...}))

runs the test once a row, each named by its key, so a failure names the
case."""


def cases(table):
    """parametrize's argvalues and ids from a dict of name: value."""
    return {"argvalues": list(table.values()), "ids": list(table)}
