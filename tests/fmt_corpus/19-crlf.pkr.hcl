source "null" "crlf" {
  communicator = "none" # windows line endings
  a=1
}

build {
  sources = ["source.null.crlf"]
  provisioner "shell-local" {
    inline = [<<EOF
echo crlf
EOF
    ]
  }
}
