"""Editor plug-ins, installed as package data (`brushwork.editors`) and copied into the editors'
plug-in folders by `brushwork plugins install`. Nothing here is imported by brushwork itself: the
plug-ins run inside Krita's and GIMP's own Pythons (stdlib + PyQt5 / GI only)."""
