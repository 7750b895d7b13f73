package com.acme.app;

import java.util.List;
import com.acme.util.Helper;
import com.acme.util.Shape;

public class Square extends Base implements Shape {
    private Helper helper = new Helper();

    public double area() {
        double side = helper.half(size());
        return Helper.twice(side) * List.of(1).size();
    }

    public Square grow() {
        return new Square();
    }
}
