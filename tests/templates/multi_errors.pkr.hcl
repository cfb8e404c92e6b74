variable "region" {
  type    = string
  default = "us-east-1"
}

source "null" "a" {
  communicator = "none"
  bogus = 1 extra = 2
}

build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = ["echo ${var.regoin}"]
    inline = ["again"]
  }
}

locals {
  x = "unterminated
}
