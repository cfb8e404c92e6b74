locals {
  café      = "naïve"    # comment
  x         = "日本語"      # wide characters count as one column each
  combining = "e\u0301"  # escape, not a combining mark
  emoji     = "🚀 launch" # emoji
  ñandú     = 1
}
