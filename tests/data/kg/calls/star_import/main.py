from mod import *
func()
