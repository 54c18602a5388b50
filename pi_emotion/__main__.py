from pi_emotion.cli import main

raise SystemExit(main())
