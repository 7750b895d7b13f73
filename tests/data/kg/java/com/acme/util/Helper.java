package com.acme.util;

public class Helper {
    public static double twice(double x) {
        return 2 * x;
    }

    public double half(double x) {
        return x / 2;
    }
}
