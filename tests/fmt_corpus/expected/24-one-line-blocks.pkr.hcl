source "null" "a" { communicator = "none" }
source "null" "b" { communicator = "none" }
variable "empty" {}
variable "empty_spaced" {}
locals { x = 1 }
build { sources = ["source.null.a", "source.null.b"] }
