source "null" "chains" {
  a  = 1
  bb = 2
  # a comment line ends the run
  ccc = 3
  d   = 4

  a_blank_line_ends_it_too = 5
  e                        = 6
  nested {
    f = 7
  }
  gggg = 8
  multi_line_value = [
    1,
  ]
  h = 9
  iiiiiiiiii = {
    j = 10
  }
  k        = "${var.x}"
  l        = <<EOF
heredoc
EOF
  mmmmm    = 11
  n        = var.a == var.b ? 1 : 2
  oo       = 12 # comment
  p        = 13 # comment
  qqqqqqqq = 14
  r        = 15 // other comment kind
}
