ß
KZ-INV-2026-0042DE-HRB-123456"DE*Agricultural machinery assembly28433512870191:

USD¿ùÿ@§HRÎZÏ	b&
Marat Zhunusov850615400125"KZ