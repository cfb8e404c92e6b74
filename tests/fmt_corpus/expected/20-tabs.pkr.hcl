source "null" "tabs" {
  communicator = "none"
  ssh_host     = "127.0.0.1"
  nested {
    key = "value" # tab before comment
  }
}
