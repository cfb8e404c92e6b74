locals {
  escapes   = "tab\there \"quoted\" back\\slash newline\n unicode \u00e9"
  dollar    = "literal $${not_interpolated} and %%{not_a_directive}"
  lone      = "a $ sign and a % sign"
  interp    = "${var.a}${var.b}-${var.c}"
  nested    = "outer ${"inner ${var.x} string"} done"
  directive = "%{if var.on}on%{else}off%{endif}"
  strip     = "%{~for x in var.list~}${x},%{~endfor~}"
  obj_in    = "${ { a = 1 }.a}"
  unicode   = "café ☕ naïve"
  empty     = ""
}
