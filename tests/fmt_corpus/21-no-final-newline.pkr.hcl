variable "no_newline" {
  default = "the file ends without a newline"
}