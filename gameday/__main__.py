from gameday.cli import main

raise SystemExit(main())
