locals {
  joined   = join(",", ["a", "b"])
  merged   = merge(local.tags, { extra = "yes" })
  expanded = concat(var.first, var.rest...)
  multi = format(
    "%s-%s-%d",
    var.name,
    var.env,
    var.build_number,
  )
  nested_calls = upper(trimspace(lower(" Mixed Case ")))
  index_chain  = var.matrix[0][1]
  attr_chain   = data.amazon-ami.ubuntu.id
  file_content = file("${path.root}/scripts/setup.sh")
  ts           = formatdate("YYYY-MM-DD", timestamp())
  cidr         = cidrsubnet("10.0.0.0/16", 8, 2)
  lookup       = lookup(var.amis, var.region, "ami-default")
  args_on_open_line = templatefile("${path.root}/user-data.tpl", {
    hostname = var.hostname
    port     = 8080
  })
}
