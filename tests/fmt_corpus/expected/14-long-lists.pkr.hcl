locals {
  packages = ["curl", "git", "jq", "nginx", "unzip", "htop", "vim", "tmux", "rsync", "ca-certificates", "gnupg", "lsb-release"]
  one_per_line = [
    "curl",
    "git",
    "jq",
  ]
  no_trailing_comma = [
    "a",
    "b"
  ]
  packed = [
    "a", "b", "c",
    "d", "e", "f",
  ]
  nested_lists = [
    [1, 2, 3],
    [4, 5, 6],
    [
      7,
      8,
    ],
  ]
  empty   = []
  numbers = [1, 2.5, 3e10, 0.001, 1E-3]
}
