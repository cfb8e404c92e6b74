variable "instance_type" {
  type        = string
  default     = "t3.micro"
  description = "EC2 instance type for the build"
  validation {
    condition     = can(regex("^t3\\.", var.instance_type))
    error_message = "The instance_type must be a t3 type."
  }
}
variable "db_password" {
  type      = string
  sensitive = true
}
variable "settings" {
  type = object({
    name    = string
    port    = number
    enabled = bool
    tags    = map(string)
  })
  default = {
    name    = "web"
    port    = 8080
    enabled = true
    tags    = {}
  }
}
variable "subnets" {
  type    = list(string)
  default = []
}
