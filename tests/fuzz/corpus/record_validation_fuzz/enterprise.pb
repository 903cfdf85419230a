
»	302938475Gulistan Textile Cluster LLC"LLC*ê
213.208B
UZ-S2-P014HðR4
Dilshod Karimov31507901234564	AA1234567"UZZ+998901234567boffice@gulistan-textile.example