source "amazon-ebs" "web" {
  ami_name      = "web"
  instance_type = "t3.micro"
  region        = "us-east-1"
  access_key    = "AKIAIOSFODNN7EXAMPLE"
  secret_key    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
  ssh_username  = "ubuntu"
  source_ami_filter {
    filters = {
      name = "ubuntu/*"
    }
    most_recent = true
  }
}

build {
  sources = ["source.amazon-ebs.web"]
}
