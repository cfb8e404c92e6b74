locals {
  tags = {
    Name        = "web"
    "Cost:Team" = "platform"
    env         = var.env
    (var.key)   = "computed key"
  }
  colon_style = {
    a : 1,
    bb : 2,
  }
  inline = { a = 1, b = "two", c = [3] }
  nested = {
    level1 = {
      level2 = {
        level3 = "deep"
      }
      sibling = true
    }
    list = [{ name = "a" }, { name = "b" }]
  }
  empty = {}
}
