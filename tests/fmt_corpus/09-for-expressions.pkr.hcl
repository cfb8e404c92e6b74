locals {
  names      = ["web", "api", "worker"]
  upper      = [for n in local.names : upper(n)]
  filtered   = [for i, n in local.names : "${i}-${n}" if n != "api"]
  by_name    = { for n in local.names : n => length(n) }
  grouped    = { for n in local.names : substr(n, 0, 1) => n... }
  nested     = [for a in [1, 2] : [for b in [3, 4] : a * b]]
  tuple_in   = [for x in [local.names[0]] : x]
  multi_line = [
    for n in local.names :
    "${n}.example.com"
    if length(n) > 2
  ]
  splat     = local.objects[*].name
  old_splat = local.objects.*.id
}
