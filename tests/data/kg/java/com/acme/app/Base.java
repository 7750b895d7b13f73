package com.acme.app;

abstract class Base {
    double size() {
        return 1.0;
    }
}
