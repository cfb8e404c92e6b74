from releasemgr.cli import main

raise SystemExit(main())
