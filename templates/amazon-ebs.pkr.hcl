# An AMI with nginx, built from the newest Ubuntu 22.04 image (the classic Packer example,
# with its missing commas fixed). Build with `release build templates/amazon-ebs.pkr.hcl`:
# its build is named `web-ami`, so its versions are web-ami@v1, ... and never mix with the
# local template's `web` (both files together: `release build templates/ --build web-ami`).

packer {
  required_plugins {
    amazon = {
      version = ">= 1.2.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "instance_type" {
  type    = string
  default = "t3.micro"
}

locals {
  timestamp = regex_replace(timestamp(), "[- TZ:]", "")
}

source "amazon-ebs" "ubuntu" {
  ami_name      = "web-${local.timestamp}"
  instance_type = var.instance_type
  region        = var.region
  ami_regions   = ["us-east-1", "us-west-2"]

  source_ami_filter {
    filters = {
      name                = "ubuntu/images/*ubuntu-jammy-22.04-amd64-server-*"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    most_recent = true
    owners      = ["099720109477"]
  }

  ssh_username = "ubuntu"

  tags = {
    Name        = "web"
    Environment = "build"
  }
}

build {
  name    = "web-ami"
  sources = ["source.amazon-ebs.ubuntu"]

  provisioner "shell" {
    inline = [
      "sudo apt-get update",
      "sudo apt-get install -y nginx",
    ]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
