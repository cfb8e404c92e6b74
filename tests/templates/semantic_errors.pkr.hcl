variable "size" {
  type    = string
  default = "tiny"
  validation {
    condition     = contains(["small", "large"], var.size)
    error_message = "The size must be small or large."
  }
}

locals {
  name = "web-${var.sise}"
  loop = local.loop2
  loop2 = local.loop
}

source "amazon-ebs" "web" {
  ami_name       = "web"
  instance_typo  = "t3.micro"
  region         = "us-east-1"
  source_ami     = "ami-12345678"
  ssh_username   = "ubuntu"
}

data "amazon-ami" "base" {
  region = "us-east-1"
}

build {
  sources = ["source.amazon-ebs.web", "source.amazon-ebs.missing"]
  provisioner "shell" {
    inline = ["echo ${local.nmae}"]
  }
}
