from affectra_edge.cli import main

raise SystemExit(main())
