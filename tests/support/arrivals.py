"""Reading a carrier's arrival times (monotonic seconds) against a rate limit: the most requests that
arrived within any one second, and how long a request may spend between its grant and its arrival."""

# A grant is made on the database's (or Redis's) clock and the request arrives at the carrier later: the
# time between (a thread's start, the connection, a loaded machine) can put a grant's requests into the
# next second of arrivals.
TRANSIT_S = 0.2


def most_in_one_second(arrivals: list[float]) -> int:
    arrivals = sorted(arrivals)
    most, lo = 0, 0
    for hi, at in enumerate(arrivals):
        while at - arrivals[lo] >= 1.0:
            lo += 1
        most = max(most, hi - lo + 1)
    return most
