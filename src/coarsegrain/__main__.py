from coarsegrain.cli import main

raise SystemExit(main())
