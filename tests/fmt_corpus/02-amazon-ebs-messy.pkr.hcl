packer {
required_plugins {
amazon = {
version = ">= 1.2.8"
    source = "github.com/hashicorp/amazon"
}
}
}
variable "region" {
    type = string
    default="us-east-1"
}
variable   "ami_regions"   {
  type =list( string )
  default = [ "eu-west-1","eu-central-1" ]
}
locals {
    timestamp = regex_replace( timestamp(),"[- TZ:]","" )
}
source "amazon-ebs" "ubuntu" {
    ami_name = "web-${ local.timestamp }"
    instance_type = "t3.micro"
    region = var.region
    ami_regions = var.ami_regions
    source_ami_filter {
        filters = {
            name = "ubuntu/images/*ubuntu-jammy-22.04-amd64-server-*"
            root-device-type = "ebs"
            virtualization-type = "hvm"
        }
        most_recent = true
        owners = ["099720108477"]
    }
    ssh_username = "ubuntu"
    tags = {
        Name = "web"
        Release = "${local.timestamp}"
    }
}
build {
    name = "web"
    sources = [ "source.amazon-ebs.ubuntu" ]
    provisioner "shell" {
        inline = [
            "sudo apt-get update",
            "sudo apt-get install -y nginx",
        ]
    }
    post-processor "manifest" {
        output = "manifest.json"
        strip_path = true
    }
}
