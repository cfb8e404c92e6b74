variable "greeting" {
  type    = string
  default = "hello"
}

source "local" "web" {
  base     = "./app"
  command  = ["python3", "-m", "http.server", "--bind", "127.0.0.1"]
  port_env = "PORT"
  env      = { GREETING = var.greeting }
  health_check {
    type    = "http"
    path    = "/"
    timeout = "30s"
  }
}

build {
  sources = ["source.local.web"]

  provisioner "file" {
    source      = "index.html"
    destination = "index.html"
  }

  provisioner "shell" {
    inline = ["echo ${var.greeting} > greeting.txt"]
  }
}
