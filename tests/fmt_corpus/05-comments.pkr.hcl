# A file header comment.
# Second line of the header.

// A slash comment before a block.
/* A block comment before a block. */
source "null" "example" {
  communicator = "none" # trailing hash comment
  # a comment on its own line
  // another one
  /* and a block comment */
  ssh_timeout = "5m"   // aligned with the hash comment above?
  ssh_port    = 22     /* block comments at the end of a line are not aligned */
  a = 1 # one
  bbb = 2 # two
  cc = 3 // three

  /*
   * A multi-line block comment
   *   keeps its own inner layout.
   */
  dd = 4
}

build {
  sources = [
    # a comment inside a list
    "source.null.example", # trailing comment in a list
    // a slash comment inside a list
  ]
}
# trailing comment at the end of the file
