variable "greeting" {
  type        = string
  default     = "hello"
  description = "What to say."
  validation {
    condition     = length(var.greeting) > 2
    error_message = "The greeting must be longer than two characters."
  }
}

variable "count_to" {
  type    = number
  default = 3
}

variable "tags" {
  type    = map(string)
  default = { team = "web" }
}

variable "api_token" {
  type      = string
  default   = "s3cr3t-value"
  sensitive = true
}

locals {
  words   = [for i in range(var.count_to) : "${var.greeting}-${i}"]
  message = join(" ", local.words)
  upper   = upper(local.message)
}

source "null" "one" {
  communicator = "none"
}

source "null" "two" {
  communicator = "none"
}

build {
  name        = "demo"
  description = "A build with two null sources."
  sources     = ["source.null.one"]

  source "source.null.two" {
    name = "second"
  }

  provisioner "shell-local" {
    inline = ["echo ${local.message}", "echo ${var.tags["team"]}"]
  }

  provisioner "shell-local" {
    only         = ["null.one"]
    pause_before = "1s"
    max_retries  = 2
    timeout      = "5m"
    inline       = ["echo only one"]
  }

  post-processors {
    post-processor "manifest" {
      output = "manifest.json"
    }
    post-processor "checksum" {
      checksum_types = ["sha256"]
    }
  }
}
