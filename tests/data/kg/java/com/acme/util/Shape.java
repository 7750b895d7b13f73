package com.acme.util;

public interface Shape {
    double area();
}
