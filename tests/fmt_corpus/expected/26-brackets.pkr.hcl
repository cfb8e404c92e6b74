locals {
  closing_same_line = [
    "a",
  "b"]
  two_openers = merge({
    a = 1
    }, {
    b = 2
  })
  call_in_list = [format("%s", "x"),
    format("%s", "y"),
  ]
  deep              = { a = { b = { c = [1, [2, [3]]] } } }
  index_after_call  = split(",", var.csv)[0]
  index_after_paren = (var.list)[1]
  splat_after_call  = flatten(var.items)[*].id
  wrapped = [
    {
      name = "one"
    },
    {
      name = "two"
    }
  ]
}
