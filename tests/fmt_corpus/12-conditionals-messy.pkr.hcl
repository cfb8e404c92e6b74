locals {
  env = var.production?"prod":"dev"
  size = var.large ? ( var.huge ? "t3.2xlarge" : "t3.large" ) : "t3.micro"
  negative = - 1
  difference = var.a-var.b
  neg_in_call = max( -1,- var.b,3 - - 2 )
  logic = ! var.a&&(var.b||var.c)==true
  comparison = var.count>=3&&var.count<=10&&var.count!=5
  arithmetic = (var.a+var.b)*var.c/2%3
  ternary_list = var.extra?["a","b"]:[]
  nullish = var.maybe==null?"default":var.maybe
  chained = (
  var.first
    ? "one"
      : var.second
  ? "two"
  : "three"
  )
}
