# The quick-start template: an image for the embedded `local` provider.
# `release build templates/local.pkr.hcl` turns it into web@v1, web@v2, ...

variable "greeting" {
  type        = string
  default     = "hello"
  description = "Written into the image; change it to make a new version."
}

variable "release_notes" {
  type    = string
  default = ""
}

locals {
  version_file = "VERSION.txt"
}

source "local" "web" {
  base     = "./app"
  command  = ["python3", "-m", "http.server", "--bind", "127.0.0.1"]
  port_arg = true
  env = {
    GREETING = var.greeting
  }

  health_check {
    type    = "http"
    path    = "/"
    timeout = "30s"
  }
}

build {
  name    = "web"
  sources = ["source.local.web"]

  provisioner "shell" {
    inline = [
      "echo '${var.greeting}' > greeting.txt",
      "echo '${var.release_notes}' > ${local.version_file}",
    ]
  }

  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
}
