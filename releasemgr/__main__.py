from releasemgr.cli import run

run()
