source "amazon-ebs" "base" {
  region = "us-east-1"
  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = 40
    volume_type           = "gp3"
    delete_on_termination = true
  }
  launch_block_device_mappings {
    device_name = "/dev/sdf"
    volume_size = 100
  }
}

build {
  source "source.amazon-ebs.base" {
    name     = "web"
    ami_name = "web-ami"
  }
  source "amazon-ebs.base" {
    name = "api"
  }

  provisioner "shell" {
    only   = ["amazon-ebs.web"]
    inline = ["echo web"]
  }

  provisioner "shell" {
    except       = ["amazon-ebs.web"]
    inline       = ["echo api"]
    pause_before = "10s"
    max_retries  = 3
  }

  dynamic "provisioner" {
    for_each = var.scripts
    labels   = ["shell"]
    content {
      script = provisioner.value
    }
  }
}
