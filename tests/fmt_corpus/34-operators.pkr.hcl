locals {
  in_keyword  = [for in in var.ins : in]
  minus_chain = 1 - -1 - - -2
  after_paren = (1) - 1
  after_index = var.list[0] - 1
  after_str   = "a" == "b"
  not_not     = !!var.flag
  neg_after_q = var.x ? -1 : -2
  mod         = 10 % 3
  mul_neg     = 2 * -3
  idx_neg     = var.list[-1 + 2]
  attr_number = var.tuple.0
  arrow       = { for k, v in var.m : k => v if v != null }
  ellipsis    = max(var.numbers...)
  paren_obj   = ({ a = 1 }).a
  bool_ops    = true && false || !true
  cmp         = 1 < 2 && 2 > 1 && 1 <= 1 && 1 >= 1
}
