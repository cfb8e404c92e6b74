"""Deploy: bring an environment's servers to a version by replacing them, never by changing them.

Strategies:

- `rolling`: K servers at a time (`batch_size`). Each batch first stops up to
  `max_unavailable` old servers (0 by default: new servers are started before any old one
  stops), starts K new ones, waits until they are healthy, puts them into the route, and
  only then stops the rest of the batch's old servers. The number of healthy servers in
  the route never drops below `count - max_unavailable`.
- `blue-green`: start the full new set, check it, switch the route in one step; the old set
  stays running (`standby`) for an instant rollback until `release retire` (or
  `--retire-old`).

Whatever the strategy, when the environment already has `count` live servers of the target
version (a blue-green set still standing by after a rollback), the deploy checks them and
switches the route back without starting anything.

When new servers do not become healthy in time, the deployment stops, removes every server
it started, starts again as many servers of the old versions as it had stopped (so the
environment is back where it was; the deployment is marked `rolled_back`), leaves the route
on the old servers, records a failed deployment and exits 1.

Every change holds the (image, env) lock (`releasemgr.ledger.locks`).

Where it lives: `run.py` (`deploy()`, the dry run, the result), `settings.py` (count,
strategy, health check), `target.py` (the version and its artifact), `strategies.py` (plan,
rolling, blue-green, undoing a failed deployment), `group.py` (a provider's server group,
e.g. an Auto Scaling group); the servers themselves are started, stopped and put into the
route by `release/servers.py`.

The ledger work goes through the repositories (`releasemgr.ledger.repo`) on
`Ledger.transaction()` / `Ledger.connect()`: on a SQLite ledger a deploy or
`rollback --deploy` process imports no SQLAlchemy.
"""

# A package face: importing `release.deploy.settings` (as drift and status do) must not
# load the strategies and servers of a whole deployment.
