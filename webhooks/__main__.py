from webhooks import cli

raise SystemExit(cli.main())
