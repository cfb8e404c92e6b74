"""HCL native syntax: source files (source), the syntax tree (ast), tokens, templates,
expressions and the parser with its entry points (parser.parse_file and friends)."""
