source /* between labels */ "null" "c" { # after the opening brace
  communicator = /* before the value */ "none"
  list         = [1, /* inline */ 2, 3] # trailing
  value        = 1 /* block at end */   # then a line comment
  #no space after hash
  //no space after slashes
  /**/
  multi = [ # opens a list
    1,      # one
    22,     # twenty-two
  ]         # closes it
}
/* comment before EOF without newline */
# last line is a comment without newline